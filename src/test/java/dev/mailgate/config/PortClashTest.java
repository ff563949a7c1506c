package dev.mailgate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.Map;

import org.apache.activemq.artemis.core.remoting.impl.invm.InVMRegistry;
import org.apache.camel.util.ObjectHelper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.support.Gateway;

/** A listener whose port is taken stops start-up with the key named, instead of a half-started gateway. */
class PortClashTest {

    @TempDir
    Path dir;

    @Test
    void http_port_in_use_stops_start_up_naming_the_key() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Map<String, String> properties = Gateway.folders(dir);
            properties.put("mailgate.http.port", Integer.toString(taken.getLocalPort()));

            Throwable failure = catchThrowable(() -> Gateway.start(dir, properties).close());

            ConfigurationException config = ObjectHelper.getException(ConfigurationException.class, failure);
            assertThat(config).as("a ConfigurationException in %s", failure).isNotNull();
            assertThat(config.getMessage()).contains("mailgate.http.port=" + taken.getLocalPort(), "cannot be used");
            // the embedded broker starts on its own thread before the HTTP port is checked: it is stopped again
            assertThat(InVMRegistry.instance.getAcceptor(0)).as("the embedded broker's in-VM acceptor").isNull();
        }
    }

    @Test
    void broker_port_in_use_stops_start_up_naming_the_key() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Map<String, String> properties = Gateway.folders(dir);
            properties.put("mailgate.broker.port", Integer.toString(taken.getLocalPort()));

            Throwable failure = catchThrowable(() -> Gateway.start(dir, properties).close());

            ConfigurationException config = ObjectHelper.getException(ConfigurationException.class, failure);
            assertThat(config).as("a ConfigurationException in %s", failure).isNotNull();
            assertThat(config.getMessage()).contains("mailgate.broker.port=" + taken.getLocalPort(), "ActiveMQ");
        }
    }
}
