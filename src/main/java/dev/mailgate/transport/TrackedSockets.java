package dev.mailgate.transport;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import javax.net.SocketFactory;

/**
 * The plain socket factory of Mailgate's SMTP sessions ({@code mail.smtp.socketFactory}): it remembers the
 * connections it made, so that a stopping gateway can cut the sends that outlast the shutdown timeout. Closing the
 * plain socket closes the TLS connection layered on it, and unblocks a thread waiting for the server. With
 * {@code mailgate.smtp.proxy} its sockets are {@link ProxyTunnel}'s, tracked the same way.
 */
final class TrackedSockets extends SocketFactory {

    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closing;
    private volatile ProxyTunnel tunnel;

    /** From now on connections go through {@code proxy} ({@code mailgate.smtp.proxy}). */
    void through(ProxyTunnel proxy) {
        this.tunnel = proxy;
    }

    /** What Jakarta Mail asks for: an unconnected socket, which it connects to the server (or through the proxy). */
    @Override
    public Socket createSocket() throws IOException {
        ProxyTunnel proxy = tunnel;
        return track(proxy == null ? new Socket() : proxy.socket());
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
        ProxyTunnel proxy = tunnel;
        return proxy != null ? tunnelled(proxy, new InetSocketAddress(host, port)) : track(new Socket(host, port));
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
        ProxyTunnel proxy = tunnel;
        return proxy != null ? tunnelled(proxy, new InetSocketAddress(host, port))
                : track(new Socket(host, port, localHost, localPort));
    }

    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
        ProxyTunnel proxy = tunnel;
        return proxy != null ? tunnelled(proxy, new InetSocketAddress(host, port)) : track(new Socket(host, port));
    }

    @Override
    public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
            throws IOException {
        ProxyTunnel proxy = tunnel;
        return proxy != null ? tunnelled(proxy, new InetSocketAddress(address, port))
                : track(new Socket(address, port, localAddress, localPort));
    }

    /** Every way of asking for a connected socket goes through the proxy when there is one (never around it). */
    private Socket tunnelled(ProxyTunnel proxy, InetSocketAddress server) throws IOException {
        Socket socket = track(proxy.socket());
        socket.connect(server, proxy.handshakeMillis());
        return socket;
    }

    /** Closes every connection still open; returns how many there were. */
    int closeAll() {
        closing = true;
        int closed = 0;
        for (Socket socket : open) {
            if (!socket.isClosed()) {
                try {
                    socket.close();
                    closed++;
                } catch (IOException e) {
                    // closing is all we wanted; a socket that fails to close is gone anyway
                }
            }
            open.remove(socket);
        }
        return closed;
    }

    private Socket track(Socket socket) throws IOException {
        if (closing) {
            // a send that got past the check just before the cut: it does not get a connection either
            socket.close();
            throw new java.net.SocketException("Mailgate is stopping");
        }
        open.removeIf(Socket::isClosed);
        open.add(socket);
        return socket;
    }
}
