"""The race Wi-Fi's configuration: hostapd, dnsmasq and nftables files from the settings."""
