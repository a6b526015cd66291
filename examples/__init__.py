"""Small programs showing how partner apps use Slotgraph (README, "Emails and webhooks")."""
