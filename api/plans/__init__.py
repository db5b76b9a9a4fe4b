"""The integration plan and its follow-ups: the days after a treatment session, as data.

A patient's plan is a list of steps (a day after the session, a local time, what to do). Recording
a session makes one follow-up per step, in the same unit of work, each due at the step's local time
in the patient's time zone. Records of the matching kind complete them; /v1/sync carries them, so a
phone can raise its own notifications offline. The package sits below the journal kinds (which
complete follow-ups and, for sessions, make them) and knows none of them.
"""
