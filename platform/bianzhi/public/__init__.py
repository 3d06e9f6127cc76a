"""Public disclosure (机构公示 / 机构检索): units and their approved establishment, without login."""
