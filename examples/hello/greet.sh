#!/bin/sh
# Prints its argument in capitals.
printf '%s\n' "$*" | tr '[:lower:]' '[:upper:]'
