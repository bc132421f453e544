"""Prime directory to layer entries: takes the prime dir and the base index, gives sorted
entries placed on the base (usrmerge redirects, pruning, hardlink leaders)."""
