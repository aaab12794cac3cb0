package dev.pullthrough.server;

import io.netty.channel.FileRegion;
import io.netty.util.AbstractReferenceCounted;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A part of a file sent with {@code transferTo} (zero-copy), over a channel it does not own:
 * a client following a growing download sends each newly verified stretch this way, and the file
 * stays open for the next one. (Netty's {@code DefaultFileRegion} closes its file when released.)
 */
final class SharedFileRegion extends AbstractReferenceCounted implements FileRegion {
    private final FileChannel file;
    private final long position;
    private final long count;
    private long transferred;

    SharedFileRegion(FileChannel file, long position, long count) {
        this.file = file;
        this.position = position;
        this.count = count;
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    public long count() {
        return count;
    }

    @Override
    public long transferred() {
        return transferred;
    }

    @Override
    @Deprecated
    public long transfered() {
        return transferred;
    }

    @Override
    public long transferTo(WritableByteChannel target, long offset) throws IOException {
        long remaining = count - offset;
        if (remaining <= 0) {
            return 0;
        }
        long written = file.transferTo(position + offset, remaining, target);
        if (written > 0) {
            transferred += written;
        }
        return written;
    }

    @Override
    protected void deallocate() {
        // the file belongs to the response that made this region
    }

    @Override
    public SharedFileRegion retain() {
        super.retain();
        return this;
    }

    @Override
    public SharedFileRegion retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public SharedFileRegion touch() {
        return this;
    }

    @Override
    public SharedFileRegion touch(Object hint) {
        return this;
    }
}
