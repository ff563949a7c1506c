package dev.mailgate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import jakarta.mail.Multipart;
import jakarta.mail.Part;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSftpServer;
import dev.mailgate.support.TestSmtpServer;

/**
 * {@code examples/routes/sftp-pickup.yaml} against a real SFTP server: camel-ftp downloads each PDF with key
 * authentication and strict host key checking into a local folder, a folder route mails it as an attachment, and the
 * file is deleted on the server only after it was stored here.
 */
class SftpPickupExampleTest {

    private static final Path CREDENTIALS = temporaryFolder();
    private static final TestSftpServer SFTP = TestSftpServer.start(CREDENTIALS);

    @RegisterExtension
    final MailgateExtension mailgate = MailgateExtension.realTenant()
            .withExamples("sftp-pickup.yaml")
            .with("sftp.host", "127.0.0.1")
            .with("sftp.port", String.valueOf(SFTP.port()))
            .with("sftp.user", TestSftpServer.USER)
            .with("sftp.private-key-file", SFTP.privateKeyFile().toString())
            .with("sftp.known-hosts", SFTP.knownHostsFile().toString())
            .with("sftp.poll-interval", "200");

    @AfterAll
    static void stopServer() throws Exception {
        SFTP.close();
        MailgateExtension.deleteQuietly(CREDENTIALS);
    }

    @Test
    void a_pdf_on_the_sftp_server_is_mailed_as_its_attachment_and_removed_from_the_server() throws Exception {
        byte[] pdf = ("%PDF-1.4\n% invoice 4711\n" + "x".repeat(20_000) + "\n%%EOF\n").getBytes();
        Path outgoing = Files.createDirectories(SFTP.root().resolve("outgoing"));
        Files.write(outgoing.resolve("invoice-4711.pdf"), pdf);
        Files.writeString(outgoing.resolve("notes.txt"), "not a PDF");

        TestSmtpServer.Received mail = mailgate.smtp().awaitReceived(1).get(0);

        assertThat(mail.recipients()).containsExactly("accounting@example.com");
        assertThat(mail.message().getSubject()).isEqualTo("Document invoice-4711.pdf from our partner");
        Part attachment = ((Multipart) mail.message().getContent()).getBodyPart(1);
        assertThat(attachment.getFileName()).isEqualTo("invoice-4711.pdf");
        assertThat(attachment.getInputStream().readAllBytes()).isEqualTo(pdf);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !Files.exists(outgoing.resolve("invoice-4711.pdf")));
        assertThat(outgoing.resolve("notes.txt")).exists();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(mailgate.dir()
                .resolve("outbox/from-sftp/.sent/invoice-4711.pdf")));
        assertThat(mailgate.logText()).doesNotContain("PRIVATE KEY");
    }

    private static Path temporaryFolder() {
        try {
            return Files.createTempDirectory("mailgate-sftp");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
