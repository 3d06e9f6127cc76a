"""机构编制文件库: approval documents and 三定 provisions, linked to the units, cases and
chronicle entries they ground, searchable by number, title, unit and full text."""
