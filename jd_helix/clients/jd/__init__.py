"""The JD Sports retail API: its client, its record parsers, and the sales extract."""
