# The demo mail server of `make run` as a container: Postfix (SMTP 2525) delivering over LMTP to
# Dovecot (IMAP 1143, POP3 1110), configured by the same script as the Docker-free stack.
FROM debian:bookworm-slim
RUN apt-get update \
 && echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-sieve dovecot-managesieved postfix \
      openssl procps iproute2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY deploy/local/stack.sh /opt/postroom/deploy/local/stack.sh
ENV POSTROOM_STATE_DIR=/var/lib/postroom POSTROOM_STACK_COMPONENTS=mail POSTROOM_LISTEN=0.0.0.0
# the packages are in place (apt is skipped): this creates the vmail user that owns the mailboxes
RUN /opt/postroom/deploy/local/stack.sh install
EXPOSE 2525 1143 1110
CMD ["/opt/postroom/deploy/local/stack.sh", "foreground"]
