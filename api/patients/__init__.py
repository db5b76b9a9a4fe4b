"""The therapist's side: linked patients, the records they share (read-only), and acknowledging
shared entries."""
