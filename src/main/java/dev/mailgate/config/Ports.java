package dev.mailgate.config;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/** Listeners must fail start-up when their port is taken, not run half-started beside someone else's server. */
public final class Ports {

    private Ports() {
    }

    public static void requireFree(String key, String host, int port, String advice) {
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(new InetSocketAddress(InetAddress.getByName(host), port));
        } catch (IOException e) {
            throw new ConfigurationException(key + "=" + port + " on " + host + " cannot be used (" + e.getMessage()
                    + "): " + advice);
        }
    }
}
