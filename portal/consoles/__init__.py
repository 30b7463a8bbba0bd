"""The web console: pages, the websocket consumer and its bridges to Proxmox (DESIGN.md section 3, point 7)."""
