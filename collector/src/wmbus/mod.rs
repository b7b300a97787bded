//! Wireless and wired M-Bus telegram decoding (EN 13757-3/-4, OMS).
