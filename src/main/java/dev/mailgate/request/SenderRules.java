package dev.mailgate.request;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

import dev.mailgate.config.Settings;

/**
 * Whom a channel may send as, and to whom. The app registration may be allowed to send as many mailboxes; a
 * channel sends only as the senders listed here ({@code *} for any), and, when a recipient-domain list is set,
 * only to those domains.
 *
 * @param allowedSenders          addresses ({@code billing@contoso.com}) and domains ({@code contoso.com} or
 *                                {@code @contoso.com}); {@code *} allows any sender
 * @param forcedSender            when set, the channel's only sender: requests without {@code from} get it, others
 *                                must name it
 * @param allowedRecipientDomains empty: any recipient
 * @param authenticateAs          which mailbox authenticates for which senders (Send As); none: each sender itself
 */
public record SenderRules(List<String> allowedSenders, Optional<String> forcedSender,
        List<String> allowedRecipientDomains, List<Settings.SendAs> authenticateAs) {

    public static final SenderRules ANYONE = new SenderRules(List.of("*"), Optional.empty(), List.of());

    public SenderRules(List<String> allowedSenders, Optional<String> forcedSender,
            List<String> allowedRecipientDomains) {
        this(allowedSenders, forcedSender, allowedRecipientDomains, List.of());
    }

    /** The rules of a channel's {@link Settings.Senders}. */
    public static SenderRules of(Settings.Senders senders) {
        return new SenderRules(senders.allowed(), senders.forced(), senders.recipientDomains(),
                senders.authenticateAs());
    }

    public boolean mayUseSender(String address) {
        String a = address.toLowerCase(Locale.ROOT);
        if (forcedSender.isPresent()) {
            return forcedSender.get().equalsIgnoreCase(a);
        }
        return allowedSenders.stream().anyMatch(s -> matches(s, a));
    }

    /**
     * The mailbox that authenticates (the XOAUTH2 {@code user=}) for a request from {@code from}: the mailbox of the
     * first {@code authenticate-as} rule that matches it, which sends as {@code from} by its Send As permission, or
     * {@code from} itself. Pacing and the daily limits count against this mailbox.
     */
    public String mailboxFor(String from) {
        String a = from.toLowerCase(Locale.ROOT);
        return authenticateAs.stream().filter(rule -> matches(rule.senders(), a)).map(Settings.SendAs::mailbox)
                .findFirst().orElse(from);
    }

    /** {@code *}, the address itself, or its domain ({@code contoso.com} or {@code @contoso.com}). */
    private static boolean matches(String pattern, String address) {
        String s = pattern.toLowerCase(Locale.ROOT);
        return s.equals("*") || s.equals(address) || s.indexOf('@') <= 0 && domainOf(address).equals(
                s.startsWith("@") ? s.substring(1) : s);
    }

    public boolean mayReach(String address) {
        String domain = domainOf(address.toLowerCase(Locale.ROOT));
        return allowedRecipientDomains.isEmpty() || allowedRecipientDomains.stream()
                .map(d -> d.toLowerCase(Locale.ROOT)).map(d -> d.startsWith("@") ? d.substring(1) : d)
                .anyMatch(d -> domain.equals(d) || domain.endsWith("." + d));
    }

    private static String domainOf(String address) {
        return address.substring(address.lastIndexOf('@') + 1);
    }
}
