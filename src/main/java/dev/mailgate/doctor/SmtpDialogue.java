package dev.mailgate.doctor;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

import dev.mailgate.text.Text;

/**
 * One SMTP session spoken by hand, line by line, so that the doctor can stop after each step and show what was
 * said. The transcript never holds the access token: the {@code AUTH} line is recorded redacted.
 */
final class SmtpDialogue implements Closeable {

    /** An SMTP reply: its code and all its lines. */
    record Reply(int code, List<String> lines) {
        /** The reply's text, control characters escaped: a server (or anyone before TLS) must not drive the terminal. */
        String text() {
            return Text.printable(String.join(" ", lines.stream().map(l -> l.length() > 4 ? l.substring(4) : "")
                    .toList()).strip());
        }

        /** {@code 535 5.7.3 Authentication unsuccessful}: the code and the text in one line. */
        String line() {
            return code + " " + text();
        }

        boolean positive() {
            return code >= 200 && code < 400;
        }
    }

    private final String host;
    private final int readTimeoutMillis;
    private Socket socket;
    private BufferedReader in;
    private OutputStream out;
    private List<String> transcript = new ArrayList<>();
    /** Values that must never be recorded, should a server echo them back (the token, the SASL response). */
    private final List<String> secrets = new ArrayList<>();

    SmtpDialogue(String host, int readTimeoutMillis) {
        this.host = host;
        this.readTimeoutMillis = readTimeoutMillis;
    }

    void connect(InetSocketAddress address, int connectTimeoutMillis) throws IOException {
        connect(new Socket(), address, connectTimeoutMillis);
    }

    /** Connects {@code unconnected} (a {@code ProxyTunnel}'s socket, through the proxy) to {@code address}. */
    void connect(Socket unconnected, InetSocketAddress address, int connectTimeoutMillis) throws IOException {
        socket = unconnected;
        socket.connect(address, connectTimeoutMillis);
        socket.setSoTimeout(readTimeoutMillis);
        streams();
    }

    /** Upgrades the connection (after {@code 220} to {@code STARTTLS}) with host name verification, TLS 1.2+. */
    SSLSocket startTls(SSLContext tls) throws IOException {
        SSLSocket secure = (SSLSocket) tls.getSocketFactory().createSocket(socket, host, socket.getPort(), true);
        SSLParameters parameters = secure.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        parameters.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
        if (!host.matches("[0-9.:]+")) {
            parameters.setServerNames(List.of(new SNIHostName(host)));
        }
        secure.setSSLParameters(parameters);
        secure.setSoTimeout(readTimeoutMillis);
        secure.startHandshake();
        socket = secure;
        streams();
        return secure;
    }

    Reply read() throws IOException {
        List<String> lines = new ArrayList<>();
        while (true) {
            String line = in.readLine();
            if (line == null) {
                transcript.add("S: (connection closed)");
                throw new IOException("the server closed the connection"
                        + (lines.isEmpty() ? "" : " after " + Text.printable(lines.get(lines.size() - 1))));
            }
            line = redacted(line);
            transcript.add("S: " + Text.printable(line));
            lines.add(line);
            if (line.length() < 4 || line.charAt(3) != '-') {
                int code;
                try {
                    code = Integer.parseInt(line.substring(0, Math.min(3, line.length())));
                } catch (NumberFormatException e) {
                    throw new IOException("the server's reply is not SMTP: " + Text.printable(line));
                }
                return new Reply(code, List.copyOf(lines));
            }
        }
    }

    Reply command(String line) throws IOException {
        return command(line, line);
    }

    /**
     * Sends {@code line}, recording {@code shown} instead (the redacted form of a line with a secret); the
     * {@code secrets} in it are also cut from anything the server says back.
     */
    Reply command(String line, String shown, String... secrets) throws IOException {
        if (line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0 || line.indexOf('\0') >= 0) {
            // one command is one line: a mailbox with a line break must not become a second command
            throw new IllegalArgumentException("an SMTP command cannot contain a line break or NUL: "
                    + Text.printable(shown));
        }
        this.secrets.addAll(List.of(secrets));
        transcript.add("C: " + shown);
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        return read();
    }

    /** Sends a message body already in SMTP's form (CRLF lines, no line starting with a dot), then the end mark. */
    Reply data(String body) throws IOException {
        transcript.add("C: (" + body.length() + " bytes of message)");
        transcript.add("C: .");
        out.write((body + "\r\n.\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        return read();
    }

    private String redacted(String line) {
        String clean = line;
        for (String secret : secrets) {
            clean = clean.replace(secret, "…(redacted)");
        }
        return clean;
    }

    /** What was said since the last call, and a fresh transcript for the next step. */
    List<String> takeTranscript() {
        List<String> taken = transcript;
        transcript = new ArrayList<>();
        return List.copyOf(taken);
    }

    /** The extension keywords and parameters of an EHLO reply: {@code AUTH LOGIN XOAUTH2}, {@code STARTTLS}, ... */
    static List<String> extensions(Reply ehlo) {
        List<String> extensions = new ArrayList<>();
        for (int i = 1; i < ehlo.lines().size(); i++) {
            String line = ehlo.lines().get(i);
            extensions.add(line.length() > 4 ? line.substring(4).strip() : "");
        }
        return extensions;
    }

    static boolean offers(List<String> extensions, String keyword) {
        return extensions.stream().anyMatch(e -> e.toUpperCase(Locale.ROOT).split("[ =]")[0].equals(keyword));
    }

    static String authMechanisms(List<String> extensions) {
        return extensions.stream().filter(e -> e.toUpperCase(Locale.ROOT).matches("AUTH[ =].*"))
                .map(e -> e.substring(5).strip()).findFirst().orElse(null);
    }

    @Override
    public void close() {
        if (socket == null) {
            return;
        }
        try {
            if (!socket.isClosed()) {
                socket.setSoTimeout(2000);
                out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        } catch (IOException e) {
            // closing anyway
        }
        try {
            socket.close();
        } catch (IOException e) {
            // nothing to add
        }
    }

    private void streams() throws IOException {
        in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        out = socket.getOutputStream();
    }
}
