package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Proxy;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

import dev.mailgate.config.Settings;
import dev.mailgate.outcome.Journal;

/**
 * The 24-hour recipient count is summed from the journal, but not for every message: the sends in between recounts
 * are added up by the pacing itself, so the limit holds at once and the journal is not scanned per message.
 */
class MailboxPacingCountTest {

    private Instant now = Instant.parse("2026-11-29T08:00:00Z");
    private final AtomicLong journalSays = new AtomicLong();
    private final List<Instant> counted = new ArrayList<>();

    private final Clock clock = new Clock() {
        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    };

    /** A journal that answers the 24-hour sum only, and notes when it was asked. */
    private final Journal journal = (Journal) Proxy.newProxyInstance(Journal.class.getClassLoader(),
            new Class<?>[] {Journal.class}, (proxy, method, args) -> {
                if (method.getName().equals("recipientsSince")) {
                    counted.add(now);
                    assertThat((Instant) args[1]).isEqualTo(now.minus(Duration.ofHours(24)));
                    return journalSays.get();
                }
                throw new UnsupportedOperationException(method.getName());
            });

    private final MailboxPacing pacing = new MailboxPacing(new Settings.Limits(500, 35L << 20, 60_000, 3, 5),
            new Settings.Delivery(100, Duration.ofSeconds(30), 2, Duration.ofMinutes(30), Duration.ofHours(24),
                    Duration.ofHours(1), Duration.ofMinutes(1), Duration.ofSeconds(30)), journal, clock);

    @Test
    void sends_count_at_once_and_the_journal_is_asked_again_only_after_the_recount_interval() {
        journalSays.set(2);
        try (MailboxPacing.Permit permit = pacing.acquire("Alice@contoso.test", 2, null)) {
            permit.sent();
        }
        // 2 in the journal + 2 just sent + 2 more would be 6 of 5
        assertThatThrownBy(() -> pacing.acquire("alice@contoso.test", 2, null))
                .isInstanceOfSatisfying(MailboxPacing.NotYet.class, e -> {
                    assertThat(e.kind()).isEqualTo(MailboxPacing.NotYet.Kind.QUOTA);
                    assertThat(e.getMessage()).contains("reached 4 of its 5 recipients");
                });
        // a send that failed counts for nothing
        now = now.plusSeconds(1);
        pacing.acquire("alice@contoso.test", 1, null).close();
        assertThat(counted).as("one count for all of that").hasSize(1);

        // ten seconds on, the journal is asked again: the two sent yesterday have dropped out of its window, and
        // it now holds the two sent just now
        now = now.plusSeconds(MailboxPacing.RECOUNT_SECONDS);
        journalSays.set(2);
        try (MailboxPacing.Permit permit = pacing.acquire("alice@contoso.test", 3, null)) {
            permit.sent();
        }
        assertThat(counted).hasSize(2);
        assertThatThrownBy(() -> pacing.acquire("alice@contoso.test", 1, null))
                .isInstanceOfSatisfying(MailboxPacing.NotYet.class,
                        e -> assertThat(e.getMessage()).contains("reached 5 of its 5"));
    }

    @Test
    void every_mailbox_has_its_own_count() {
        journalSays.set(5);
        assertThatThrownBy(() -> pacing.acquire("alice@contoso.test", 1, null))
                .isInstanceOf(MailboxPacing.NotYet.class);
        journalSays.set(0);
        pacing.acquire("bob@contoso.test", 5, null).close();
        assertThat(counted).hasSize(2);
    }
}
