package dev.mailgate.compose;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

import jakarta.activation.DataSource;
import jakarta.mail.internet.SharedInputStream;

/**
 * A file Mailgate has already opened (through {@link dev.mailgate.request.AttachmentRoot#open}, which follows no link),
 * read as many times as the message is written without opening it again by name: a name can be swapped for a link
 * between two opens, an open channel cannot. Reads are positional, so every stream has its own position in the one
 * channel; closing a stream leaves the channel open, the {@link OutgoingMessage} closes it.
 */
final class OpenedFile {

    private OpenedFile() {
    }

    /** An attachment's content, with the content type Mailgate decided. */
    static DataSource dataSource(FileChannel channel, String name, String type) {
        return new DataSource() {
            @Override
            public InputStream getInputStream() {
                return new Segment(channel, 0, Long.MAX_VALUE);
            }

            @Override
            public OutputStream getOutputStream() throws IOException {
                throw new IOException("an attachment is read only");
            }

            @Override
            public String getContentType() {
                return type;
            }

            @Override
            public String getName() {
                return name;
            }
        };
    }

    /**
     * The whole file as a {@link SharedInputStream}: a message parsed from it reads its header block and keeps the
     * body on disk, as with Jakarta Mail's {@code SharedFileInputStream}, which can only open a file by name.
     */
    static InputStream shared(FileChannel channel) {
        return new Shared(channel, 0, Long.MAX_VALUE);
    }

    /** Bytes {@code [start, end)} of the file (or to its end), read at their positions. */
    private static final class Segment extends InputStream {
        private final FileChannel channel;
        private final long end;
        private long position;

        Segment(FileChannel channel, long start, long end) {
            this.channel = channel;
            this.position = start;
            this.end = end;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            long left = end - position;
            if (left <= 0) {
                return -1;
            }
            int n = channel.read(ByteBuffer.wrap(b, off, (int) Math.min(len, left)), position);
            if (n > 0) {
                position += n;
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = Math.max(0, Math.min(n, Math.min(end, channel.size()) - position));
            position += skipped;
            return skipped;
        }

        long position() {
            return position;
        }
    }

    /** {@link Segment} with the buffer and the sub-streams a message parser asks for. */
    private static final class Shared extends BufferedInputStream implements SharedInputStream {
        private final FileChannel channel;
        private final long start;
        private final long end;

        Shared(FileChannel channel, long start, long end) {
            super(new Segment(channel, start, end), 8192);
            this.channel = channel;
            this.start = start;
            this.end = end;
        }

        @Override
        public synchronized long getPosition() {
            // what was read from the file, less what still waits in the buffer; relative to this stream's start
            return ((Segment) in).position() - (count - pos) - start;
        }

        @Override
        public InputStream newStream(long from, long to) {
            long absoluteEnd = to < 0 ? end : start + to;
            return new Shared(channel, start + from, absoluteEnd);
        }

        @Override
        public void close() {
            // the channel is the message's, closed with it
        }
    }
}
