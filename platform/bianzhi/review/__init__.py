"""机构编制年审: the bureau starts the annual review for every unit at once; each unit checks its
registers, corrects what is wrong and confirms; the section accepts or returns."""
