"""Node-hit statistics: the store, the recorder the call runtime feeds, and the reports."""
