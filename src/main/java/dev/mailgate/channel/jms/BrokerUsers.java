package dev.mailgate.channel.jms;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.Principal;
import java.util.Optional;
import java.util.Set;

import javax.security.auth.Subject;

import org.apache.activemq.artemis.core.remoting.impl.invm.InVMConnection;
import org.apache.activemq.artemis.core.security.CheckType;
import org.apache.activemq.artemis.core.security.Role;
import org.apache.activemq.artemis.spi.core.protocol.RemotingConnection;
import org.apache.activemq.artemis.spi.core.security.ActiveMQSecurityManager5;
import org.apache.activemq.artemis.spi.core.security.jaas.UserPrincipal;

import dev.mailgate.config.Settings;

/**
 * Who may connect, and what each may do. Clients (the broker user and password the README documents) may only
 * send to the request queue: not consume or browse it (the mail of every channel is there), not touch the
 * dead-letter queue, not create addresses or queues, not send management messages. The operator, when configured,
 * may browse the request queue and send to it (a dead letter sent back), and browse and consume the dead-letter
 * queue. The internal user may do everything, on the in-VM acceptor only. Passwords are compared in constant time.
 */
final class BrokerUsers implements ActiveMQSecurityManager5 {

    enum Access { CLIENT, OPERATOR, INTERNAL }

    /** The access a login was granted, kept in its Subject next to the user's name. */
    record Granted(Access access) implements Principal {
        @Override
        public String getName() {
            return access.name();
        }
    }

    private final String clientUser;
    private final byte[] clientPassword;
    private final byte[] operatorPassword;
    private final byte[] internalPassword;
    private final String queue;
    private final String deadLetters;

    BrokerUsers(String clientUser, String clientPassword, Optional<String> operatorPassword, String internalPassword,
            String queue, String deadLetters) {
        this.clientUser = clientUser;
        this.clientPassword = clientPassword.getBytes(StandardCharsets.UTF_8);
        this.operatorPassword = operatorPassword.map(p -> p.getBytes(StandardCharsets.UTF_8)).orElse(null);
        this.internalPassword = internalPassword.getBytes(StandardCharsets.UTF_8);
        this.queue = queue;
        this.deadLetters = deadLetters;
    }

    @Override
    public Subject authenticate(String user, String password, RemotingConnection connection,
            String securityDomain) {
        Access access = access(user, password, connection);
        if (access == null) {
            return null;
        }
        Subject subject = new Subject();
        subject.getPrincipals().add(new UserPrincipal(user));
        subject.getPrincipals().add(new Granted(access));
        return subject;
    }

    private Access access(String user, String password, RemotingConnection connection) {
        if (user == null || password == null) {
            return null;
        }
        byte[] given = password.getBytes(StandardCharsets.UTF_8);
        if (user.equals(Settings.Broker.INTERNAL)) {
            boolean inVm = connection != null && connection.getTransportConnection() instanceof InVMConnection;
            return inVm && MessageDigest.isEqual(given, internalPassword) ? Access.INTERNAL : null;
        }
        if (user.equals(Settings.Broker.OPERATOR)) {
            return operatorPassword != null && MessageDigest.isEqual(given, operatorPassword) ? Access.OPERATOR
                    : null;
        }
        return user.equals(clientUser) && MessageDigest.isEqual(given, clientPassword) ? Access.CLIENT : null;
    }

    @Override
    public boolean authorize(Subject subject, Set<Role> roles, CheckType checkType, String address) {
        Access access = subject == null ? null : subject.getPrincipals(Granted.class).stream().findFirst()
                .map(Granted::access).orElse(null);
        if (access == null) {
            return false;
        }
        // a fully qualified queue name (address::queue) is checked on its address
        String bare = address == null ? "" : address.split("::", 2)[0];
        return switch (access) {
            case INTERNAL -> true;
            case CLIENT -> checkType == CheckType.SEND && bare.equals(queue);
            case OPERATOR -> bare.equals(queue) && (checkType == CheckType.SEND || checkType == CheckType.BROWSE)
                    || bare.equals(deadLetters) && (checkType == CheckType.CONSUME
                            || checkType == CheckType.BROWSE);
        };
    }

    /** Not called: Artemis uses {@link #authenticate} of an {@link ActiveMQSecurityManager5}. */
    @Override
    public boolean validateUser(String user, String password) {
        return false;
    }

    /** Not called: Artemis uses {@link #authorize} of an {@link ActiveMQSecurityManager5}. */
    @Override
    public boolean validateUserAndRole(String user, String password, Set<Role> roles, CheckType checkType) {
        return false;
    }
}
