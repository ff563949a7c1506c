package dev.mailgate.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An outbound proxy on loopback, as corporate networks have them: HTTP {@code CONNECT} (optionally demanding Basic
 * credentials, answering {@code 407} without them) or SOCKS5 (optionally with RFC 1929 user and password). It relays
 * bytes over real sockets and records what it saw: each tunnel's target, the credentials offered, and the bytes
 * relayed, so a test can prove that traffic went through it.
 */
public final class TestProxy implements AutoCloseable {

    /** One tunnel asked for: its target ({@code host:port}), the credentials offered (or null) and the answer. */
    public record Tunnel(String target, String credentials, int status) {
    }

    private final ServerSocket server;
    private final boolean socks;
    private final String user;
    private final String password;
    private volatile int refuseWith;
    private final List<Tunnel> tunnels = new CopyOnWriteArrayList<>();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicLong relayed = new AtomicLong();

    private TestProxy(boolean socks, String user, String password) {
        this.socks = socks;
        this.user = user;
        this.password = password;
        try {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Thread accept = new Thread(this::accept, "test-proxy-" + server.getLocalPort());
        accept.setDaemon(true);
        accept.start();
    }

    /** An HTTP CONNECT proxy; with a user, tunnels need {@code Proxy-Authorization: Basic user:password}. */
    public static TestProxy http(String user, String password) {
        return new TestProxy(false, user, password);
    }

    /** A SOCKS5 proxy; with a user, RFC 1929 authentication is required. */
    public static TestProxy socks5(String user, String password) {
        return new TestProxy(true, user, password);
    }

    public int port() {
        return server.getLocalPort();
    }

    /** {@code http://127.0.0.1:<port>} or {@code socks5://...}. */
    public String url() {
        return (socks ? "socks5" : "http") + "://127.0.0.1:" + port();
    }

    /** From now on every CONNECT is answered with this status (e.g. 403); 0: tunnels are opened again. */
    public void refuseWith(int status) {
        refuseWith = status;
    }

    public List<Tunnel> tunnels() {
        return List.copyOf(tunnels);
    }

    /** Bytes relayed in both directions over all tunnels. */
    public long relayed() {
        return relayed.get();
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException e) {
            // closing
        }
        for (Socket socket : open) {
            try {
                socket.close();
            } catch (IOException e) {
                // closing
            }
        }
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                open.add(client);
                Thread serve = new Thread(() -> serve(client), "test-proxy-client");
                serve.setDaemon(true);
                serve.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket client) {
        try {
            InputStream in = client.getInputStream();
            OutputStream out = client.getOutputStream();
            String target = socks ? socksHandshake(in, out) : connectHandshake(in, out);
            if (target == null) {
                client.close();
                return;
            }
            int colon = target.lastIndexOf(':');
            Socket upstream = new Socket();
            open.add(upstream);
            upstream.connect(new InetSocketAddress(target.substring(0, colon), Integer.parseInt(target.substring(
                    colon + 1))), 5000);
            if (socks) {
                out.write(new byte[] {5, 0, 0, 1, 127, 0, 0, 1, 0, 0});
            } else {
                out.write("HTTP/1.1 200 Connection established\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            out.flush();
            Thread up = new Thread(() -> pump(in, upstream), "test-proxy-up");
            up.setDaemon(true);
            up.start();
            pump(upstream.getInputStream(), client);
        } catch (IOException e) {
            try {
                client.close();
            } catch (IOException ignored) {
                // gone
            }
        }
    }

    private String connectHandshake(InputStream in, OutputStream out) throws IOException {
        String request = line(in);
        String credentials = null;
        for (String header = line(in); !header.isEmpty(); header = line(in)) {
            if (header.regionMatches(true, 0, "Proxy-Authorization: Basic ", 0, 27)) {
                credentials = new String(Base64.getDecoder().decode(header.substring(27).strip()),
                        StandardCharsets.UTF_8);
            }
        }
        String[] parts = request.split(" ");
        String target = parts.length == 3 && parts[0].equals("CONNECT") ? parts[1] : "?";
        int status = refuseWith != 0 ? refuseWith : target.equals("?") ? 405
                : user != null && !(user + ":" + password).equals(credentials) ? 407 : 200;
        tunnels.add(new Tunnel(target, credentials, status));
        if (status != 200) {
            out.write(("HTTP/1.1 " + status + " Refused\r\n"
                    + (status == 407 ? "Proxy-Authenticate: Basic realm=\"test\"\r\n" : "")
                    + "Content-Length: 0\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return null;
        }
        return target;
    }

    private String socksHandshake(InputStream in, OutputStream out) throws IOException {
        in.read();
        int methods = in.read();
        byte[] offered = in.readNBytes(methods);
        boolean passwordOffered = new String(offered, StandardCharsets.ISO_8859_1).indexOf(2) >= 0;
        String credentials = null;
        if (user != null) {
            if (!passwordOffered) {
                out.write(new byte[] {5, (byte) 0xFF});
                tunnels.add(new Tunnel("?", null, 407));
                return null;
            }
            out.write(new byte[] {5, 2});
            in.read();
            String name = new String(in.readNBytes(in.read()), StandardCharsets.UTF_8);
            String pass = new String(in.readNBytes(in.read()), StandardCharsets.UTF_8);
            credentials = name + ":" + pass;
            boolean ok = name.equals(user) && pass.equals(password);
            out.write(new byte[] {1, (byte) (ok ? 0 : 1)});
            if (!ok) {
                tunnels.add(new Tunnel("?", credentials, 407));
                return null;
            }
        } else {
            out.write(new byte[] {5, 0});
        }
        in.read();
        in.read();
        in.read();
        int type = in.read();
        String host = type == 3 ? new String(in.readNBytes(in.read()), StandardCharsets.US_ASCII)
                : InetAddress.getByAddress(in.readNBytes(type == 1 ? 4 : 16)).getHostAddress();
        int port = (in.read() << 8) | in.read();
        String target = host + ":" + port;
        if (refuseWith != 0) {
            tunnels.add(new Tunnel(target, credentials, refuseWith));
            out.write(new byte[] {5, 2, 0, 1, 0, 0, 0, 0, 0, 0});
            return null;
        }
        tunnels.add(new Tunnel(target, credentials, 200));
        return target;
    }

    private void pump(InputStream from, Socket to) {
        byte[] buffer = new byte[8192];
        try {
            OutputStream out = to.getOutputStream();
            for (int n = from.read(buffer); n >= 0; n = from.read(buffer)) {
                out.write(buffer, 0, n);
                out.flush();
                relayed.addAndGet(n);
            }
        } catch (IOException e) {
            // one side closed
        } finally {
            try {
                to.close();
            } catch (IOException e) {
                // gone
            }
        }
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b < 0) {
                throw new java.io.EOFException();
            }
            if (b != '\r') {
                line.write(b);
            }
        }
        return line.toString(StandardCharsets.ISO_8859_1);
    }
}
