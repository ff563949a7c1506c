package dev.mailgate.transport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;

import dev.mailgate.config.Settings;

/**
 * SMTP through an outbound proxy ({@code mailgate.smtp.proxy}): sockets that, asked to connect to the SMTP server,
 * connect to the proxy and open a tunnel to the server, with HTTP {@code CONNECT} (RFC 9110 §9.3.6; Basic
 * {@code Proxy-Authorization} when a user is set) or SOCKS5 (RFC 1928; user and password by RFC 1929). The server's
 * host name goes to the proxy unresolved, since behind such proxies this machine often cannot resolve it. They are
 * plain sockets to everyone else: {@link TrackedSockets} tracks them like direct ones, so a stop still cuts a stalled
 * proxied connection, and STARTTLS is layered on the tunnel with the server's name for the certificate check.
 * (Jakarta Mail's own {@code mail.smtp.proxy.host} / {@code socks.host} would bypass the socket factory.)
 */
public final class ProxyTunnel {

    /** A proxy refused the tunnel, or does not speak the protocol: what it said, and whether trying again may help. */
    public static final class Refused extends IOException {
        private final String proxy;
        private final int status;

        Refused(String proxy, int status, String message) {
            super(message);
            this.proxy = proxy;
            this.status = status;
        }

        /** The proxy's address ({@code http://proxy.corp:3128}). */
        public String proxy() {
            return proxy;
        }

        /** The HTTP status of the proxy's answer ({@code 407}), or for SOCKS5 its reply code; -1 for none. */
        public int status() {
            return status;
        }

        /** The proxy wants credentials, or refused the ones it got. */
        public boolean credentials() {
            return status == 407;
        }

        /**
         * Temporary as far as a client can tell: the proxy could not reach the server, timed out, is overloaded or
         * failed itself (HTTP 408, 429, 500, 502-504; SOCKS5 "general failure" and the network replies map to 502).
         */
        public boolean temporary() {
            return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
        }
    }

    private static final int MAX_HEAD = 16 * 1024;

    private final Settings.Proxy proxy;
    private final Duration handshakeTimeout;

    /** @param handshakeTimeout how long connecting to the proxy and opening the tunnel may take, each */
    public ProxyTunnel(Settings.Proxy proxy, Duration handshakeTimeout) {
        this.proxy = proxy;
        this.handshakeTimeout = handshakeTimeout;
    }

    public Settings.Proxy proxy() {
        return proxy;
    }

    /** How long connecting to the proxy, and then opening the tunnel, may take (mailgate.smtp.connect-timeout). */
    int handshakeMillis() {
        return (int) handshakeTimeout.toMillis();
    }

    /** An unconnected socket: {@code connect(server)} connects to the proxy and opens the tunnel to the server. */
    public Socket socket() {
        return new Tunnel();
    }

    private final class Tunnel extends Socket {

        @Override
        public void connect(SocketAddress endpoint, int timeout) throws IOException {
            InetSocketAddress target = (InetSocketAddress) endpoint;
            super.connect(new InetSocketAddress(proxy.host(), proxy.port()), timeout);
            int readTimeout = getSoTimeout();
            setSoTimeout((int) handshakeTimeout.toMillis());
            try {
                if (proxy.socks()) {
                    socks5(target.getHostString(), target.getPort());
                } else {
                    connectMethod(target.getHostString(), target.getPort());
                }
            } catch (IOException | RuntimeException e) {
                close();
                throw e;
            }
            setSoTimeout(readTimeout);
        }

        private void connectMethod(String host, int port) throws IOException {
            // an IPv6 literal is bracketed in an authority (RFC 3986 §3.2.2)
            String authority = (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
            StringBuilder request = new StringBuilder("CONNECT ").append(authority).append(" HTTP/1.1\r\nHost: ")
                    .append(authority).append("\r\n");
            if (proxy.user().isPresent()) {
                String credentials = proxy.user().get() + ":" + proxy.password().orElse("");
                request.append("Proxy-Authorization: Basic ").append(Base64.getEncoder().encodeToString(
                        credentials.getBytes(StandardCharsets.UTF_8))).append("\r\n");
            }
            request.append("\r\n");
            OutputStream out = getOutputStream();
            out.write(request.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            // read the head byte by byte: whatever follows the blank line is the SMTP server's, not ours to take
            InputStream in = getInputStream();
            String status = line(in);
            int code = status.matches("HTTP/1\\.[01] \\d{3}.*") ? Integer.parseInt(status.substring(9, 12)) : -1;
            int read = status.length();
            for (String header = line(in); !header.isEmpty(); header = line(in)) {
                read += header.length();
                if (read > MAX_HEAD) {
                    throw new Refused(proxy.address(), -1, "the proxy " + proxy.address() + " sent an answer to "
                            + "CONNECT longer than " + MAX_HEAD + " bytes");
                }
            }
            if (code != 200) {
                throw new Refused(proxy.address(), code, "the proxy " + proxy.address() + " refused CONNECT "
                        + authority + ": " + (code < 0 ? "it did not answer in HTTP" : printable(status)));
            }
        }

        private void socks5(String host, int port) throws IOException {
            OutputStream out = getOutputStream();
            InputStream in = getInputStream();
            boolean password = proxy.user().isPresent();
            out.write(password ? new byte[] {5, 2, 0, 2} : new byte[] {5, 1, 0});
            out.flush();
            int version = read(in);
            int method = read(in);
            if (version != 5 || method == 0xFF || method == 2 && !password || method != 0 && method != 2) {
                throw new Refused(proxy.address(), method == 0xFF ? 407 : -1, "the proxy " + proxy.address()
                        + (method == 0xFF ? " accepts none of the offered authentication methods (set or correct "
                                + "mailgate.smtp.proxy-user and MAILGATE_SMTP_PROXY_PASSWORD)"
                                : " did not answer as a SOCKS5 proxy"));
            }
            if (method == 2) {
                byte[] user = proxy.user().get().getBytes(StandardCharsets.UTF_8);
                byte[] pass = proxy.password().orElse("").getBytes(StandardCharsets.UTF_8);
                if (user.length > 255 || pass.length > 255) {
                    throw new Refused(proxy.address(), 407, "the SOCKS5 user or password is longer than 255 bytes");
                }
                ByteArrayOutputStream auth = new ByteArrayOutputStream();
                auth.write(1);
                auth.write(user.length);
                auth.write(user);
                auth.write(pass.length);
                auth.write(pass);
                out.write(auth.toByteArray());
                out.flush();
                read(in);
                if (read(in) != 0) {
                    throw new Refused(proxy.address(), 407, "the proxy " + proxy.address() + " refused the user "
                            + proxy.user().get() + " (mailgate.smtp.proxy-user, MAILGATE_SMTP_PROXY_PASSWORD)");
                }
            }
            byte[] name = host.getBytes(StandardCharsets.US_ASCII);
            if (name.length > 255) {
                throw new Refused(proxy.address(), -1, "the host name " + host + " is longer than SOCKS5 allows");
            }
            ByteArrayOutputStream connect = new ByteArrayOutputStream();
            connect.write(new byte[] {5, 1, 0, 3, (byte) name.length});
            connect.write(name);
            connect.write(port >> 8);
            connect.write(port & 0xFF);
            out.write(connect.toByteArray());
            out.flush();
            read(in);
            int reply = read(in);
            if (reply != 0) {
                // RFC 1928 §6: 1 general failure (often the proxy's own connect or DNS failing), 3 network, 4 host
                // unreachable, 5 connection refused, 6 TTL expired are the path's; 2 (not allowed by its rules) and
                // 7, 8 (not supported) are the set-up's. The rest of the reply does not matter then
                throw new Refused(proxy.address(), reply == 1 || reply >= 3 && reply <= 6 ? 502 : 403, "the proxy "
                        + proxy.address() + " refused to connect to " + host + ":" + port + " (SOCKS5 reply "
                        + reply + ": " + socksReply(reply) + ")");
            }
            read(in);
            int type = read(in);
            int skip = switch (type) {
                case 1 -> 4;
                case 4 -> 16;
                case 3 -> read(in);
                default -> throw new Refused(proxy.address(), -1, "the proxy " + proxy.address()
                        + " did not answer as a SOCKS5 proxy");
            };
            for (int i = 0; i < skip + 2; i++) {
                read(in);
            }
        }
    }

    private static String socksReply(int code) {
        return switch (code) {
            case 1 -> "general failure";
            case 2 -> "not allowed by its rules";
            case 3 -> "network unreachable";
            case 4 -> "host unreachable";
            case 5 -> "connection refused";
            case 6 -> "TTL expired";
            case 7 -> "command not supported";
            case 8 -> "address type not supported";
            default -> "unknown";
        };
    }

    private static int read(InputStream in) throws IOException {
        int b = in.read();
        if (b < 0) {
            throw new java.io.EOFException("the proxy closed the connection during the handshake");
        }
        return b;
    }

    /** One line of the proxy's answer, without its CRLF. */
    private static String line(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int b = read(in); b != '\n'; b = read(in)) {
            if (b != '\r') {
                line.append((char) b);
            }
            if (line.length() > MAX_HEAD) {
                throw new IOException("the proxy sent a line longer than " + MAX_HEAD + " bytes");
            }
        }
        return line.toString();
    }

    private static String printable(String text) {
        return text.replaceAll("\\p{Cntrl}", "?");
    }
}
