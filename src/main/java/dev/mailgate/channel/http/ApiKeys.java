package dev.mailgate.channel.http;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.User;

import org.apache.camel.Exchange;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.GeneratedSecret;
import dev.mailgate.config.Settings;

/**
 * The API keys the HTTP API accepts, each with a name and a role: from {@code MAILGATE_HTTP_API_KEYS}, a keys file,
 * or, when none is configured, one generated at first start and kept in {@code data/http-api-key} (readable by its
 * owner only), named {@code default}, with the admin role. Keys are held only as SHA-256 digests and compared in
 * constant time, against every key.
 * <p>
 * A key's name is its client's principal: requests are recorded under it, idempotency keys are its own, and it reads
 * the state of its own requests only; an {@code admin} key reads every request's. In the keys file a line is
 * {@code name: key}, {@code name: key admin}, or a bare key; in {@code MAILGATE_HTTP_API_KEYS} an item is
 * {@code name=key}, {@code name=key admin}, or a bare key. A bare key is named {@code key-} and the first 8 hex digits
 * of its SHA-256: stable when lines move, and never the key itself.
 */
public final class ApiKeys {

    /** Who a key is: its name and whether it may read every request. */
    public record Key(String name, boolean admin) {

        /** The principal the journal records for this key's requests. */
        public String principal() {
            return "http:" + name;
        }
    }

    static final String ADMIN = "admin";
    /** The name of the key Mailgate generates when none is configured. */
    public static final String GENERATED = "default";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    /** {@code name=key}: a name, then a key that is not only Base64 padding (a bare key {@code abc...==}). */
    private static final Pattern NAMED_ITEM = Pattern.compile("([A-Za-z0-9][A-Za-z0-9._-]{0,63})=(.*[^=].*)");
    /** The Camel header in which platform-http-vertx hands on the Vert.x user the authentication handler set. */
    private static final String AUTHENTICATED_USER = "CamelVertxPlatformHttpAuthenticatedUser";

    private final List<byte[]> digests;
    private final List<Key> keys;

    private ApiKeys(List<Entry> entries) {
        this.digests = entries.stream().map(e -> sha256(e.key())).toList();
        this.keys = entries.stream().map(Entry::who).toList();
    }

    /** A configured key and who it is, only while loading. */
    private record Entry(String key, Key who) {
    }

    public static ApiKeys load(Settings.Http http, Path dataDir) {
        List<Entry> entries = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < http.apiKeys().size(); i++) {
            String item = http.apiKeys().get(i);
            entries.add(parse(item, false, "mailgate.http.api-keys (MAILGATE_HTTP_API_KEYS) item " + (i + 1),
                    problems));
        }
        if (http.apiKeysFile().isPresent()) {
            Path file = http.apiKeysFile().get();
            List<String> lines;
            try {
                lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                throw new ConfigurationException("mailgate.http.api-keys-file " + file + " does not exist");
            } catch (IOException e) {
                throw new ConfigurationException("mailgate.http.api-keys-file " + file + " cannot be read ("
                        + e.getClass().getSimpleName() + ")");
            }
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i).trim();
                if (!line.isEmpty() && !line.startsWith("#")) {
                    entries.add(parse(line, true, "mailgate.http.api-keys-file " + file + " line " + (i + 1),
                            problems));
                }
            }
        }
        entries.removeIf(e -> e == null);
        checkUnique(entries, problems);
        if (!problems.isEmpty()) {
            throw new ConfigurationException(problems);
        }
        if (entries.isEmpty()) {
            String generated = GeneratedSecret.in(dataDir.resolve("http-api-key"), "HTTP API key",
                    "MAILGATE_HTTP_API_KEYS or mailgate.http.api-keys-file");
            entries.add(new Entry(generated, new Key(GENERATED, true)));
        }
        return new ApiKeys(entries);
    }

    /**
     * One key: {@code [name: ]key[ admin]} in the file, {@code [name=]key[ admin]} in the list. Problems name where
     * the key is and what is wrong, never the key.
     */
    private static Entry parse(String text, boolean file, String where, List<String> problems) {
        String[] words = text.trim().split("\\s+");
        String name = null;
        int next = 0;
        String key;
        if (file && words[0].endsWith(":")) {
            name = words[0].substring(0, words[0].length() - 1);
            next = 1;
            key = words.length > 1 ? words[1] : "";
        } else {
            Matcher named = NAMED_ITEM.matcher(words[0]);
            if (!file && named.matches()) {
                name = named.group(1);
                key = named.group(2);
            } else {
                key = words[0];
            }
        }
        String format = file ? "'name: key', 'name: key admin' or a bare key"
                : "'name=key', 'name=key admin' or a bare key";
        int rest = words.length - next - 1;
        if (rest > 1 || rest == 1 && !words[words.length - 1].equals(ADMIN)) {
            problems.add(where + " is not " + format + " (the only role is admin)");
            return null;
        }
        if (name != null && !NAME.matcher(name).matches()) {
            problems.add(where + ": a key's name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter "
                    + "or digit");
            return null;
        }
        if (key.length() < 16) {
            problems.add(where + ": the API key is shorter than 16 characters; use long random keys (e.g. openssl "
                    + "rand -base64 32)");
            return null;
        }
        boolean admin = rest == 1;
        return new Entry(key, new Key(name != null ? name : "key-" + HexFormat.of().formatHex(sha256(key), 0, 4),
                admin));
    }

    private static void checkUnique(List<Entry> entries, List<String> problems) {
        Set<String> names = new HashSet<>();
        Set<String> keys = new HashSet<>();
        for (Entry e : entries) {
            if (!names.add(e.who().name())) {
                problems.add("two HTTP API keys are named " + e.who().name() + "; give each key a name of its own");
            }
            if (!keys.add(HexFormat.of().formatHex(sha256(e.key())))) {
                problems.add("the HTTP API key named " + e.who().name() + " is configured twice; a key belongs to "
                        + "one client, give each client a key of its own");
            }
        }
    }

    /** Whether {@code presented} is one of the keys; takes the same time whichever key matches, or none. */
    public boolean accepts(String presented) {
        return indexOf(presented) >= 0;
    }

    /** Which key {@code presented} is (its position), or -1; compared against every key, in constant time. */
    public int indexOf(String presented) {
        if (presented == null || presented.isEmpty()) {
            return -1;
        }
        byte[] digest = sha256(presented);
        int found = -1;
        for (int i = 0; i < digests.size(); i++) {
            boolean match = MessageDigest.isEqual(digests.get(i), digest);
            found = match ? i : found;
        }
        return found;
    }

    /** Who the key at {@code index} (from {@link #indexOf}) is. */
    public Key key(int index) {
        return keys.get(index);
    }

    public int count() {
        return digests.size();
    }

    /** The keys' names and roles, for the log: {@code alice, ops (admin)}. */
    public String names() {
        return String.join(", ", keys.stream().map(k -> k.name() + (k.admin() ? " (admin)" : "")).toList());
    }

    /** The Vert.x user the authentication handler puts on a request made with the key at {@code index}. */
    User user(int index) {
        Key key = keys.get(index);
        return User.create(new JsonObject().put("username", key.name()).put(ADMIN, key.admin()));
    }

    /**
     * Who made this HTTP request, as the authentication handler found it; {@code null} when it did not (every route
     * but the probes needs a key, so a caller of this treats {@code null} as nobody). Only the object the handler
     * set counts: a request header of the same name would be a string, not a Vert.x user.
     */
    public static Key caller(Exchange exchange) {
        if (exchange.getIn().getHeader(AUTHENTICATED_USER) instanceof User user && user.principal() != null
                && user.principal().getString("username") != null) {
            return new Key(user.principal().getString("username"), user.principal().getBoolean(ADMIN, false));
        }
        return null;
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
