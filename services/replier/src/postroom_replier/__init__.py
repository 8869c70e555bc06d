"""Postroom replier: answers senders and notifies people, without ever feeding a mail loop."""
