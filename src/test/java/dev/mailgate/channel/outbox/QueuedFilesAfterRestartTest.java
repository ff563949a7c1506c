package dev.mailgate.channel.outbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.outcome.Journal;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.MailgateExtension;

/**
 * A file waits in {@code outbox/.queued/} while its request is on the queue. If moving it to its outcome folder
 * failed, or it was put there by hand, a restart settles it from the journal: sent or failed files go to their
 * outcome folder with the record the journal has, files whose request is still on the queue stay for it, and files
 * the journal does not know go back into the outbox to be taken again.
 */
class QueuedFilesAfterRestartTest {

    /** A retry waits long enough for a restart to happen before it. */
    @RegisterExtension
    final MailgateExtension mailgate = MailgateExtension.realTenant()
            .with("mailgate.delivery.initial-delay", "4s");

    private Gateway gateway() {
        return mailgate.gateway();
    }

    private long mailsWithSubject(String subject) {
        return mailgate.smtp().received().stream().filter(r -> r.text().contains("Subject: " + subject + "\r\n"))
                .count();
    }

    /** Drops a request and returns its delivery id (the file's, as the channel computes it). */
    private String drop(String name, String subject) throws Exception {
        Path file = gateway().drop(name, "{\"to\": \"restart@example.com\", \"subject\": \"" + subject
                + "\", \"text\": \"x\"}");
        return OutboxFiles.deliveryId(file);
    }

    @Test
    void a_file_left_in_queued_after_its_move_to_sent_failed_is_finished_from_the_journal_at_the_next_start()
            throws Exception {
        // .sent cannot be made: the move after sending fails and the file stays in .queued/
        Path blocker = Files.writeString(gateway().outbox().resolve(".sent"), "not a folder");
        String id = drop("stuck.json", "Stuck once");
        gateway().awaitState(id, Journal.State.SENT);
        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> mailgate.logText().contains("stuck.json could not be moved to .sent/"));
        assertThat(gateway().queued("stuck.json")).exists();
        Files.delete(blocker);

        mailgate.restart();

        JsonNode receipt = gateway().awaitSent("stuck.json");
        assertThat(receipt.path("status").asText()).isEqualTo("sent");
        assertThat(receipt.path("id").asText()).isEqualTo(id);
        assertThat(receipt.path("messageId").asText()).isEqualTo(gateway().journal().find(id).orElseThrow()
                .messageId());
        assertThat(gateway().queued("stuck.json")).doesNotExist();
        assertThat(mailsWithSubject("Stuck once")).isEqualTo(1);
    }

    @Test
    void a_file_left_in_queued_after_its_move_to_failed_failed_gets_its_error_file_at_the_next_start()
            throws Exception {
        Path blocker = Files.writeString(gateway().outbox().resolve(".failed"), "not a folder");
        mailgate.smtp().replyToNextData(550, "5.1.1 User unknown");
        String id = drop("refused.json", "Refused once");
        gateway().awaitState(id, Journal.State.FAILED);
        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> mailgate.logText().contains("refused.json could not be moved to .failed/"));
        Files.delete(blocker);

        mailgate.restart();

        JsonNode error = gateway().awaitFailed("refused.json");
        assertThat(error.path("id").asText()).isEqualTo(id);
        assertThat(error.path("category").asText()).isEqualTo("permanent");
        assertThat(error.path("reason").asText()).isEqualTo("a recipient address was refused");
        assertThat(error.path("serverReply").asText()).contains("5.1.1 User unknown");
        assertThat(gateway().queued("refused.json")).doesNotExist();
    }

    @Test
    void a_file_in_queued_that_the_journal_does_not_know_goes_back_into_the_outbox_and_is_sent() throws Exception {
        Path queued = Files.createDirectories(gateway().outbox().resolve(".queued"));
        Files.writeString(queued.resolve("orphan.json"), "{\"to\": \"restart@example.com\", \"subject\": \"Orphan\", "
                + "\"text\": \"x\"}");

        mailgate.restart();

        gateway().awaitSent("orphan.json");
        assertThat(gateway().queued("orphan.json")).doesNotExist();
        assertThat(mailsWithSubject("Orphan")).isEqualTo(1);
        assertThat(mailgate.logText()).contains("orphan.json", "the journal does not know it");
    }

    @Test
    void a_file_whose_request_waits_on_the_queue_stays_in_queued_over_a_restart_and_is_sent_once() throws Exception {
        mailgate.smtp().replyToNextData(451, "4.7.500 Server busy. Please try again later.");
        String id = drop("patient.json", "Patient");
        gateway().awaitState(id, Journal.State.RETRYING);

        mailgate.restart();

        // the first look at the folder after the start is done once the gateway is ready
        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> mailgate.http().get(null, "/health/ready").statusCode() == 200);
        assertThat(gateway().outbox().resolve("patient.json")).doesNotExist();
        JsonNode receipt = gateway().awaitSent("patient.json");
        assertThat(receipt.path("id").asText()).isEqualTo(id);
        assertThat(mailsWithSubject("Patient")).isEqualTo(1);
    }
}
