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

/** A plain JMS client of the gateway's embedded broker, as an application would use it (in-VM for tests). */
public final class Jms implements AutoCloseable {

    /** The embedded broker's password in tests (Gateway.folders sets it). */
    public static final String PASSWORD = "test-broker-password";

    private final ActiveMQConnectionFactory factory;
    private final Connection connection;
    private final Session session;

    public Jms(String url) {
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

    /** The messages waiting in {@code queue}, without consuming them. */
    public List<Message> browse(String queue) {
        try {
            Queue q = session.createQueue(queue);
            try (QueueBrowser browser = session.createBrowser(q)) {
                List<Message> messages = new ArrayList<>();
                Collections.list(browser.getEnumeration()).forEach(m -> messages.add((Message) m));
                return messages;
            }
        } catch (JMSException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            connection.close();
        } catch (JMSException e) {
            // closing
        }
        factory.close();
    }
}
