"""The care team: therapists' invitation codes and patients' links to them, with scopes."""
