"""Pebble: takes the project's services and checks, gives the Pebble layer file and the part
that puts the Pebble binary at /usr/bin/pebble."""
