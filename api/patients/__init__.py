"""The therapist's side: linked patients and the records they share, read-only."""
