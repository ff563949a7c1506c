package dev.mailgate.channel.outbox;

import org.apache.camel.Exchange;
import org.apache.camel.Processor;

/**
 * The step of a folder route ({@code mailgate-outbox-files}) that turns each file into the route's mail: a template
 * bean, made from the route's parameters when the route is made. {@link #check()} validates them then, so that a
 * wrong recipient in {@code routes/*.yaml} stops the start with the parameter named, instead of failing every file.
 */
public final class FileMailReader implements Processor {

    private OutboxChannel channel;
    private String folder;
    private String from;
    private String to;
    private String cc;
    private String bcc;
    private String subject;
    private String text;
    private String template;
    private Processor reader;

    /** The route's parameters, checked; called by Camel once the properties are set (the bean's init method). */
    public void check() {
        reader = channel.fileReader(folder, from, to, cc, bcc, subject, text, template);
    }

    @Override
    public void process(Exchange exchange) throws Exception {
        reader.process(exchange);
    }

    public void setChannel(OutboxChannel channel) {
        this.channel = channel;
    }

    public void setFolder(String folder) {
        this.folder = folder;
    }

    public void setFrom(String from) {
        this.from = from;
    }

    public void setTo(String to) {
        this.to = to;
    }

    public void setCc(String cc) {
        this.cc = cc;
    }

    public void setBcc(String bcc) {
        this.bcc = bcc;
    }

    public void setSubject(String subject) {
        this.subject = subject;
    }

    public void setText(String text) {
        this.text = text;
    }

    public void setTemplate(String template) {
        this.template = template;
    }
}
