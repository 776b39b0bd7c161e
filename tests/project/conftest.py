"""The project store (SQLite and SQLCipher) and the recent-projects list."""
