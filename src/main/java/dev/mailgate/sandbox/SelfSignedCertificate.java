package dev.mailgate.sandbox;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

/**
 * A throw-away key pair and self-signed server certificate, made when the sandbox starts, so its SMTP and
 * token servers speak real, verified TLS: clients trust exactly this certificate, not everything.
 */
public final class SelfSignedCertificate {

    private static final char[] PASSWORD = "sandbox".toCharArray();

    private final KeyPair keyPair;
    private final X509Certificate certificate;

    private SelfSignedCertificate(KeyPair keyPair, X509Certificate certificate) {
        this.keyPair = keyPair;
        this.certificate = certificate;
    }

    /**
     * A server certificate for {@code localhost} and {@code 127.0.0.1}. Its key is EC P-256, which every TLS client
     * here accepts: made in milliseconds where an RSA 2048 key takes a tenth of a second or more (a random prime
     * search, on every start of the sandbox), and cheaper in every handshake too.
     */
    public static SelfSignedCertificate forLocalhost() {
        return create("localhost", List.of("localhost"), List.of("127.0.0.1"), true);
    }

    /**
     * A certificate with the given DNS and IP subject alternative names (tests use other names), with an RSA 2048 key:
     * Entra ID accepts only RSA for an application's certificate credential.
     */
    public static SelfSignedCertificate create(String commonName, List<String> dnsNames, List<String> ips) {
        return create(commonName, dnsNames, ips, false);
    }

    private static SelfSignedCertificate create(String commonName, List<String> dnsNames, List<String> ips,
            boolean ec) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(ec ? "EC" : "RSA");
            generator.initialize(ec ? 256 : 2048);
            KeyPair keyPair = generator.generateKeyPair();
            byte[] algorithm = ec ? sequence(oid("1.2.840.10045.4.3.2")) // ecdsa-with-SHA256
                    : sequence(oid("1.2.840.113549.1.1.11"), NULL); // sha256WithRSAEncryption
            byte[] name = sequence(set(sequence(oid("2.5.4.3"), utf8(commonName))),
                    set(sequence(oid("2.5.4.10"), utf8("Mailgate sandbox"))));
            Instant now = Instant.now();
            ByteArrayOutputStream altNames = new ByteArrayOutputStream();
            for (String dns : dnsNames) {
                altNames.writeBytes(tagged(0x82, dns.getBytes(StandardCharsets.US_ASCII))); // [2] dNSName
            }
            for (String ip : ips) {
                altNames.writeBytes(tagged(0x87, InetAddress.getByName(ip).getAddress())); // [7] iPAddress
            }
            byte[] extensions = sequence(
                    sequence(oid("2.5.29.17"), octets(tagged(0x30, altNames.toByteArray()))),
                    sequence(oid("2.5.29.19"), TRUE, octets(sequence())), // basicConstraints, critical: no CA
                    sequence(oid("2.5.29.37"), octets(sequence(oid("1.3.6.1.5.5.7.3.1"))))); // serverAuth
            byte[] toBeSigned = sequence(
                    tagged(0xa0, integer(BigInteger.TWO)), // v3
                    integer(new BigInteger(64, new SecureRandom())),
                    algorithm,
                    name,
                    sequence(time(now.minus(Duration.ofHours(1))), time(now.plus(Duration.ofDays(30)))),
                    name,
                    keyPair.getPublic().getEncoded(), // already a DER SubjectPublicKeyInfo
                    tagged(0xa3, extensions));
            Signature signer = Signature.getInstance(ec ? "SHA256withECDSA" : "SHA256withRSA");
            signer.initSign(keyPair.getPrivate());
            signer.update(toBeSigned);
            byte[] signature = signer.sign();
            byte[] der = sequence(toBeSigned, algorithm, bits(signature));
            X509Certificate certificate = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(der));
            return new SelfSignedCertificate(keyPair, certificate);
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot create a self-signed certificate", e);
        }
    }

    // Just enough DER (X.690) for the certificate above. Written here rather than with Bouncy Castle's builder: its
    // signed jars are verified entry by entry as their hundreds of classes load, which made this the slowest step of
    // starting the sandbox.

    private static final byte[] NULL = {0x05, 0x00};
    private static final byte[] TRUE = {0x01, 0x01, (byte) 0xff};

    private static byte[] sequence(byte[]... items) {
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        for (byte[] item : items) {
            content.writeBytes(item);
        }
        return tagged(0x30, content.toByteArray());
    }

    private static byte[] set(byte[] item) {
        return tagged(0x31, item);
    }

    private static byte[] integer(BigInteger value) {
        return tagged(0x02, value.toByteArray());
    }

    private static byte[] utf8(String text) {
        return tagged(0x0c, text.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] octets(byte[] content) {
        return tagged(0x04, content);
    }

    private static byte[] bits(byte[] content) {
        byte[] withUnusedBits = new byte[content.length + 1];
        System.arraycopy(content, 0, withUnusedBits, 1, content.length);
        return tagged(0x03, withUnusedBits);
    }

    /** UTCTime, as RFC 5280 requires for dates before 2050. */
    private static byte[] time(Instant instant) {
        return tagged(0x17, DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'").withZone(ZoneOffset.UTC).format(instant)
                .getBytes(StandardCharsets.US_ASCII));
    }

    private static byte[] oid(String dotted) {
        String[] arcs = dotted.split("\\.");
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        content.write(Integer.parseInt(arcs[0]) * 40 + Integer.parseInt(arcs[1]));
        for (int i = 2; i < arcs.length; i++) {
            long arc = Long.parseLong(arcs[i]);
            int groups = (63 - Long.numberOfLeadingZeros(arc | 1)) / 7;
            for (int g = groups; g >= 0; g--) {
                content.write((int) ((arc >>> (7 * g)) & 0x7f) | (g > 0 ? 0x80 : 0));
            }
        }
        return tagged(0x06, content.toByteArray());
    }

    private static byte[] tagged(int tag, byte[] content) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(content.length + 4);
        out.write(tag);
        int length = content.length;
        if (length < 0x80) {
            out.write(length);
        } else {
            int octets = (39 - Integer.numberOfLeadingZeros(length)) / 8;
            out.write(0x80 | octets);
            for (int i = octets - 1; i >= 0; i--) {
                out.write(length >>> (8 * i));
            }
        }
        out.writeBytes(content);
        return out.toByteArray();
    }

    public X509Certificate certificate() {
        return certificate;
    }

    public KeyPair keyPair() {
        return keyPair;
    }

    /** For servers: TLS with this certificate. */
    public SSLContext serverContext() {
        try {
            // an in-memory store that is never written: PKCS#12 would encrypt the key with 10,000 rounds of
            // PBKDF2 here and decrypt it again in init(), a tenth of a second of the sandbox's start for nothing
            KeyStore keys = KeyStore.getInstance("JKS");
            keys.load(null, null);
            keys.setKeyEntry("server", keyPair.getPrivate(), PASSWORD, new X509Certificate[] {certificate});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, PASSWORD);
            SSLContext context = SSLContext.getInstance("TLS");
            // a server that asks clients for no certificate trusts none: no trust managers, rather than the default
            // ones, which would parse the JDK's hundred-odd CA certificates first
            context.init(kmf.getKeyManagers(), new TrustManager[0], new SecureRandom());
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build the server TLS context", e);
        }
    }

    /** For clients: a trust store that holds only this certificate. */
    public KeyStore trustStore() {
        try {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("mailgate-sandbox", certificate);
            return trust;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build the trust store", e);
        }
    }

    /** Writes the trust store as a PKCS#12 file (for {@code mailgate.tls.truststore}). */
    public void writeTrustStore(Path file, String password) {
        try (OutputStream out = Files.newOutputStream(file)) {
            trustStore().store(out, password.toCharArray());
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot write " + file, e);
        }
    }
}
