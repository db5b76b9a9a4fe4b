"""The audit log of therapists' reads of patient data, and the patient's view of it."""
