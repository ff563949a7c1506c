package dev.mailgate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.channel.SubmitEndpoint;
import dev.mailgate.outcome.Journal;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * {@code examples/routes/journal-report.yaml}: a camel-sql query on the journal's own database (H2 here), on a cron
 * schedule, mailed as a templated report. The schedule is every second here; the day's idempotency key keeps it to
 * one report a day, and a journal with nothing in it sends none.
 */
class JournalReportExampleTest {

    @RegisterExtension
    final MailgateExtension mailgate = MailgateExtension.realTenant()
            .withExamples("journal-report.yaml")
            .with("journal-report.cron", "* * * * * *")
            .with("journal-report.to", "ops@example.com");

    @Test
    void the_days_deliveries_are_mailed_once_as_a_report_and_an_empty_journal_sends_none() throws Exception {
        Thread.sleep(2500);
        assertThat(mailgate.smtp().received()).as("no report while the journal is empty").isEmpty();

        String id = mailgate.gateway().context().createProducerTemplate().requestBody(SubmitEndpoint.URI,
                Map.of("to", "alice@example.com", "subject", "Hello", "text", "Hi"), String.class);
        mailgate.gateway().awaitState(id, Journal.State.SENT);

        TestSmtpServer.Received report = mailgate.smtp().awaitReceived(2).stream()
                .filter(m -> m.recipients().contains("ops@example.com")).findFirst().orElseThrow();
        assertThat(report.message().getSubject()).isEqualTo("Mailgate: 1 request(s) in the last 24 hours");
        assertThat(report.text()).contains("route").containsPattern("(sent|queued|sending|received)");
        Thread.sleep(Duration.ofSeconds(3).toMillis());
        assertThat(mailgate.smtp().received()).as("one report a day, although the schedule fired again").hasSize(2);
    }
}
