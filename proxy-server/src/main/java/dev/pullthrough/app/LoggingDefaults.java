package dev.pullthrough.app;

import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;

/**
 * The proxy's logging, set up in code rather than from a logback.xml: parsing XML (Joran and an XML
 * parser, some 600 classes) took about 300 ms of every start-up, ahead of everything that logs.
 * An operator's {@code -Dlogback.configurationFile=FILE} still wins, and so does a logback-test.xml
 * on the class path, as in logback's own order. Found by logback through META-INF/services.
 */
public final class LoggingDefaults extends ContextAwareBase implements Configurator {
    /** Access-log lines waiting for the console; when it is full, lines are dropped rather than slowing requests. */
    private static final int ACCESS_QUEUE = 1024;

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        if (System.getProperty("logback.configurationFile") != null
                || getClass().getClassLoader().getResource("logback-test.xml") != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(console(context, "STDERR",
                "%d{HH:mm:ss.SSS} %-5level %logger{20} - %msg%n"));
        context.getLogger(Logger.ROOT_LOGGER_NAME).setLevel(Level.INFO);
        // The access log writes a line per request, gathered per turn of an event loop (each line
        // has its own timestamp, so the pattern is the message alone), off the request path.
        AsyncAppender access = new AsyncAppender();
        access.setContext(context);
        access.setName("ACCESS");
        access.setQueueSize(ACCESS_QUEUE);
        access.setDiscardingThreshold(0);
        access.setNeverBlock(true);
        access.addAppender(console(context, "ACCESS_STDERR", "%msg%n"));
        access.start();
        Logger accessLog = context.getLogger("pullthrough.access");
        accessLog.setLevel(Level.INFO);
        accessLog.setAdditive(false);
        accessLog.addAppender(access);
        for (String quiet : new String[] {"io.netty", "org.rocksdb", "jdk.internal.httpclient"}) {
            context.getLogger(quiet).setLevel(Level.WARN);
        }
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    private static ConsoleAppender<ILoggingEvent> console(LoggerContext context, String name, String pattern) {
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(pattern);
        encoder.start();
        ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
        appender.setContext(context);
        appender.setName(name);
        appender.setTarget("System.err");
        appender.setEncoder(encoder);
        appender.start();
        return appender;
    }
}
