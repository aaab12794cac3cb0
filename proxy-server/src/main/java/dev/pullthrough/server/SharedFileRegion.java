package dev.pullthrough.server;

import io.netty.channel.DefaultFileRegion;
import java.nio.channels.FileChannel;

/**
 * A part of a file sent zero-copy over a channel it does not own: a client following a growing
 * download sends each newly verified stretch this way, and the file stays open for the next one.
 * It is a {@code DefaultFileRegion} because Netty's epoll transport sends only those with
 * {@code sendfile}; any other region is copied through a buffer in user space (pread + send). Its
 * one change: releasing it does not close the file.
 */
final class SharedFileRegion extends DefaultFileRegion {

    SharedFileRegion(FileChannel file, long position, long count) {
        super(file, position, count);
    }

    @Override
    protected void deallocate() {
        // The file belongs to the response (GrowingFileInput closes it), not to this stretch of it.
    }
}
