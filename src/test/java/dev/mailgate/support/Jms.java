package dev.mailgate.support;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageProducer;
import jakarta.jms.Queue;
import jakarta.jms.QueueBrowser;
import jakarta.jms.Session;

import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;

/**
 * A plain JMS client of the gateway's embedded broker, as an application would use it (in-VM for tests): it sends as
 * the clients' user {@code mailgate}, which may only put requests on the queue, and looks at queues ({@link #browse})
 * as the operator user, which may.
 */
public final class Jms implements AutoCloseable {

    /** The embedded broker's client password in tests (Gateway.folders sets it). */
    public static final String PASSWORD = "test-broker-password";
    /** The embedded broker's operator password in tests (Gateway.folders sets it). */
    public static final String OPERATOR_PASSWORD = "test-broker-operator-password";

    private final String url;
    private final ActiveMQConnectionFactory factory;
    private final Connection connection;
    private final Session session;
    private ActiveMQConnectionFactory operatorFactory;
    private Connection operatorConnection;
    private Session operatorSession;

    public Jms(String url) {
        this.url = url;
        try {
            factory = new ActiveMQConnectionFactory(url, "mailgate", PASSWORD);
            connection = factory.createConnection();
            connection.start();
            session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
        } catch (JMSException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Jms inVm() {
        return new Jms("vm://0");
    }

    /** Sends a persistent TextMessage with these string properties; returns its JMSMessageID. */
    public String send(String queue, String text, Map<String, String> properties) {
        try (MessageProducer producer = session.createProducer(session.createQueue(queue))) {
            Message message = session.createTextMessage(text);
            for (var p : properties.entrySet()) {
                message.setStringProperty(p.getKey(), p.getValue());
            }
            producer.send(message);
            return message.getJMSMessageID();
        } catch (JMSException e) {
            throw new IllegalStateException(e);
        }
    }

    public String send(String queue, Message message) {
        try (MessageProducer producer = session.createProducer(session.createQueue(queue))) {
            producer.send(message);
            return message.getJMSMessageID();
        } catch (JMSException e) {
            throw new IllegalStateException(e);
        }
    }

    public Session session() {
        return session;
    }

    /** The messages waiting in {@code queue}, without consuming them (as the operator user). */
    public synchronized List<Message> browse(String queue) {
        try {
            if (operatorSession == null) {
                operatorFactory = new ActiveMQConnectionFactory(url, "mailgate-operator", OPERATOR_PASSWORD);
                operatorConnection = operatorFactory.createConnection();
                operatorConnection.start();
                operatorSession = operatorConnection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            }
            Queue q = operatorSession.createQueue(queue);
            try (QueueBrowser browser = operatorSession.createBrowser(q)) {
                List<Message> messages = new ArrayList<>();
                Collections.list(browser.getEnumeration()).forEach(m -> messages.add((Message) m));
                return messages;
            }
        } catch (JMSException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public synchronized void close() {
        try {
            connection.close();
            if (operatorConnection != null) {
                operatorConnection.close();
            }
        } catch (JMSException e) {
            // closing
        }
        factory.close();
        if (operatorFactory != null) {
            operatorFactory.close();
        }
    }
}
