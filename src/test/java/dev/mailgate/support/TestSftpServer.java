package dev.mailgate.support;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.List;

import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.apache.sshd.common.file.virtualfs.VirtualFileSystemFactory;
import org.apache.sshd.common.keyprovider.KeyPairProvider;
import org.apache.sshd.server.SshServer;
import org.apache.sshd.sftp.server.SftpSubsystemFactory;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;

/**
 * A real SFTP server (Apache MINA SSHD) on a free loopback port, serving {@link #root()}. One user logs in with a key
 * pair made here; {@link #privateKeyFile()} and {@link #knownHostsFile()} are what a client needs for strict host key
 * checking, as an operator would have them.
 */
public final class TestSftpServer implements AutoCloseable {

    public static final String USER = "partner";

    private final SshServer server;
    private final Path root;
    private final Path privateKeyFile;
    private final Path knownHostsFile;

    private TestSftpServer(Path dir) throws IOException, GeneralSecurityException {
        KeyPairGenerator rsa = KeyPairGenerator.getInstance("RSA");
        rsa.initialize(2048);
        KeyPair hostKey = rsa.generateKeyPair();
        KeyPair userKey = rsa.generateKeyPair();
        root = Files.createDirectories(dir.resolve("sftp-root"));
        server = SshServer.setUpDefaultServer();
        server.setHost("127.0.0.1");
        server.setPort(0);
        server.setKeyPairProvider(KeyPairProvider.wrap(hostKey));
        server.setPasswordAuthenticator(null);
        server.setKeyboardInteractiveAuthenticator(null);
        server.setPublickeyAuthenticator((user, key, session) -> USER.equals(user)
                && KeyUtils.compareKeys(key, userKey.getPublic()));
        server.setSubsystemFactories(List.of(new SftpSubsystemFactory.Builder().build()));
        server.setFileSystemFactory(new VirtualFileSystemFactory(root));
        server.start();
        StringWriter pem = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(pem)) {
            writer.writeObject(userKey.getPrivate());
        }
        privateKeyFile = Files.writeString(dir.resolve("sftp-key.pem"), pem.toString());
        knownHostsFile = Files.writeString(dir.resolve("sftp_known_hosts"),
                "[127.0.0.1]:" + port() + " " + PublicKeyEntry.toString(hostKey.getPublic()) + "\n");
    }

    /** Starts a server whose files and client credentials live in {@code dir}. */
    public static TestSftpServer start(Path dir) {
        try {
            return new TestSftpServer(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public int port() {
        return server.getPort();
    }

    public Path root() {
        return root;
    }

    public Path privateKeyFile() {
        return privateKeyFile;
    }

    public Path knownHostsFile() {
        return knownHostsFile;
    }

    @Override
    public void close() throws IOException {
        server.stop(true);
    }
}
