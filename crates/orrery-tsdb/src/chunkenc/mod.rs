//! Sample codecs: Gorilla/XOR (appendable, for the head) and pco (for sealed blocks).
