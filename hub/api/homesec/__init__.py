"""Home security (居家安防): a resident's own unit and the control room's view of every unit."""
