package dev.mailgate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * {@code examples/routes/csv-mailing.yaml} as the README tells a user to install it: a CSV file dropped into
 * {@code mailings/} becomes one templated mail per row, through {@code direct:mailgate-submit}.
 */
class CsvMailingExampleTest {

    @RegisterExtension
    final MailgateExtension mailgate = MailgateExtension.realTenant()
            .withExamples("csv-mailing.yaml")
            .withFolder("mailings.dir", "mailings");

    @Test
    void each_row_is_one_mail_with_the_rows_values_and_a_bad_row_fails_the_file_naming_the_field() throws Exception {
        Path mailings = Files.createDirectories(mailgate.dir().resolve("mailings"));
        drop(mailings, "december.csv", """
                email,name,amount
                alice@example.com,Alice,12.50
                "bob@example.com","Bob \"\"the Builder\"\"",3.00
                not-an-address,Mallory,1.00
                carol@example.com,Carol,7.00
                """);

        List<TestSmtpServer.Received> mails = mailgate.smtp().awaitReceived(3);
        assertThat(mails).extracting(m -> m.recipients().get(0))
                .containsExactlyInAnyOrder("alice@example.com", "bob@example.com", "carol@example.com");
        TestSmtpServer.Received bob = mails.stream().filter(m -> m.recipients().contains("bob@example.com"))
                .findFirst().orElseThrow();
        assertThat(bob.message().getSubject()).isEqualTo("Your statement, Bob \"the Builder\"");
        assertThat(bob.text()).contains("3.00 EUR");
        Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> only(mailings.resolve(".failed")) != null);
        assertThat(mailgate.logText()).contains("to[0]").contains("not-an-address");

        // the corrected file: only the row that was refused is queued now
        drop(mailings, "december.csv", """
                email,name,amount
                alice@example.com,Alice,12.50
                "bob@example.com","Bob \"\"the Builder\"\"",3.00
                dave@example.com,Dave,1.00
                carol@example.com,Carol,7.00
                """);
        Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> only(mailings.resolve(".done")) != null);
        assertThat(mailgate.smtp().awaitReceived(4)).extracting(m -> m.recipients().get(0))
                .containsExactlyInAnyOrder("alice@example.com", "bob@example.com", "carol@example.com",
                        "dave@example.com");
        Thread.sleep(1000);
        assertThat(mailgate.smtp().received()).hasSize(4);
    }

    /** Written under a name the route skips, then renamed into place, as a careful script does. */
    private static void drop(Path folder, String name, String content) throws IOException {
        Path hidden = Files.writeString(folder.resolve("." + name + ".part"), content);
        Files.move(hidden, folder.resolve(name), StandardCopyOption.ATOMIC_MOVE);
    }

    private static Path only(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) {
            return null;
        }
        try (Stream<Path> files = Files.list(folder)) {
            return files.max(Comparator.naturalOrder()).orElse(null);
        }
    }
}
