"""Small interfaces with a local default and a cloud implementation, chosen by settings."""
