"""Home security (居家安防) at the hub: which panel guards which unit, its arm state as the
edge reports it, and what guards and residents may see of it."""
