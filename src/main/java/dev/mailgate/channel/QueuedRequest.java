package dev.mailgate.channel;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import jakarta.jms.JMSException;
import jakarta.jms.Message;

/**
 * The JMS properties Mailgate's own channels put on the requests they hand to the queue (and on the retries it
 * schedules), and the signature that makes them believable. Any program that may send to the queue can set properties
 * of these names, and they say a lot: whose request this is (a foreign message claiming an HTTP request's id would be
 * sent in its place, and the real one dropped as a repeat), and which file to move when it is done. So they count
 * only on a message whose {@value #SIGNATURE} is right: an HMAC-SHA256, keyed by a secret only the gateway holds
 * ({@code mailgate.jms.signing-key}, or {@code data/queue-signing-key}), over these properties and the body.
 * <p>
 * A signature rather than the broker user Artemis stamps on each message ({@code _AMQ_VALIDATED_USER}): it holds with
 * an external broker ({@code mailgate.jms.url}) too, where Mailgate may share its user with the producers and cannot
 * make the broker stamp anything, and it ties the properties to the body, so that they cannot be lifted onto another
 * request by anyone who saw them (an operator browsing the queue, a dead letter).
 */
public final class QueuedRequest {

    /** The delivery id the channel recorded (and, for HTTP, answered with). */
    public static final String ID = "mailgateId";
    /** For outbox requests: the file in {@code .queued/} that waits for the outcome. */
    public static final String FILE = "mailgateFile";
    /** When a paced request is due, i.e. its place in its mailbox's line (epoch milliseconds). */
    public static final String PACED_SLOT = "mailgatePacedSlot";
    /** When the request's clock of giving up started, if not when it arrived (it waited for a held mailbox). */
    public static final String COUNTING_SINCE = "mailgateCountingSince";
    /** The signature of the properties above and the body (Base64). */
    public static final String SIGNATURE = "mailgateSignature";
    /**
     * On a dead letter of a request Mailgate queued itself: the signature of its body alone (Base64), so that the body
     * sent back to the queue by an operator may still name the request's files in Mailgate's own folders.
     */
    public static final String REPLAY = "mailgateReplay";

    private static final String ALGORITHM = "HmacSHA256";
    /** Changes when what is signed changes, so that an old signature never verifies under a new meaning. */
    private static final String VERSION = "mailgate-queued-request-1";
    /** What a replay signature signs first: never the same bytes as a queued request's signature. */
    private static final String REPLAY_VERSION = "mailgate-replay-1";

    /** What Mailgate said about a request it queued itself; {@code null}: not said. */
    public record Stamp(String id, String file, Long pacedSlot, Long countingSince) {

        public static Stamp of(String id) {
            return new Stamp(id, null, null, null);
        }
    }

    private final SecretKeySpec key;

    /** @param secret the signing key: random, and known only to the gateways that consume this queue */
    public QueuedRequest(String secret) {
        this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), ALGORITHM);
    }

    /** The properties to send {@code body} with: the stamp's, and their signature. */
    public Map<String, Object> properties(Stamp stamp, String body) {
        Map<String, Object> properties = new LinkedHashMap<>();
        properties.put(ID, stamp.id());
        if (stamp.file() != null) {
            properties.put(FILE, stamp.file());
        }
        if (stamp.pacedSlot() != null) {
            properties.put(PACED_SLOT, stamp.pacedSlot());
        }
        if (stamp.countingSince() != null) {
            properties.put(COUNTING_SINCE, stamp.countingSince());
        }
        properties.put(SIGNATURE, Base64.getEncoder().encodeToString(mac(stamp,
                body.getBytes(StandardCharsets.UTF_8))));
        return properties;
    }

    /**
     * The stamp of {@code message} when Mailgate signed it with this body; empty for any other message, whatever
     * properties it carries (they are then ignored).
     */
    public Optional<Stamp> verify(Message message, byte[] body) {
        try {
            String signature = message.getStringProperty(SIGNATURE);
            if (signature == null) {
                return Optional.empty();
            }
            Stamp stamp = new Stamp(message.getStringProperty(ID), message.getStringProperty(FILE),
                    message.propertyExists(PACED_SLOT) ? message.getLongProperty(PACED_SLOT) : null,
                    message.propertyExists(COUNTING_SINCE) ? message.getLongProperty(COUNTING_SINCE) : null);
            if (stamp.id() == null) {
                return Optional.empty();
            }
            boolean signed = MessageDigest.isEqual(mac(stamp, body), Base64.getDecoder().decode(signature));
            return signed ? Optional.of(stamp) : Optional.empty();
        } catch (JMSException | RuntimeException e) {
            // a property of the wrong type, a signature that is not Base64: not signed by Mailgate
            return Optional.empty();
        }
    }

    /** The {@value #REPLAY} property's value for a dead letter with this body. */
    public String replay(String body) {
        return Base64.getEncoder().encodeToString(replayMac(body.getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * Whether {@code message} is a dead letter of a request Mailgate queued itself, sent back with its body unchanged
     * and its {@value #REPLAY} property. Only Mailgate can make that property, and only who may read dead letters (the
     * operator) sees it: a program that may only send to the queue cannot have it for a body of its own making.
     */
    public boolean isReplay(Message message, byte[] body) {
        try {
            String signature = message.getStringProperty(REPLAY);
            return signature != null && MessageDigest.isEqual(replayMac(body), Base64.getDecoder().decode(signature));
        } catch (JMSException | RuntimeException e) {
            return false;
        }
    }

    private byte[] replayMac(byte[] body) {
        return mac(body, REPLAY_VERSION);
    }

    private byte[] mac(Stamp stamp, byte[] body) {
        return mac(body, VERSION, stamp.id(), stamp.file(),
                stamp.pacedSlot() == null ? null : stamp.pacedSlot().toString(),
                stamp.countingSince() == null ? null : stamp.countingSince().toString());
    }

    /**
     * The HMAC of {@code fields} (the first says what is signed, so that no signature verifies under another meaning)
     * and the body's SHA-256. Every field is written with its length, or -1 for none: no two lists sign the same bytes.
     */
    private byte[] mac(byte[] body, String... fields) {
        try {
            ByteArrayOutputStream signed = new ByteArrayOutputStream();
            for (String value : fields) {
                field(signed, value);
            }
            signed.writeBytes(MessageDigest.getInstance("SHA-256").digest(body));
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(key);
            return mac.doFinal(signed.toByteArray());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void field(ByteArrayOutputStream out, String value) {
        byte[] bytes = value == null ? new byte[0] : value.getBytes(StandardCharsets.UTF_8);
        out.writeBytes(ByteBuffer.allocate(4).putInt(value == null ? -1 : bytes.length).array());
        out.writeBytes(bytes);
    }
}
