"""The Integration Journal API. The app is built by api.app.create_app; the journal kinds it
serves are listed in api.kinds."""
