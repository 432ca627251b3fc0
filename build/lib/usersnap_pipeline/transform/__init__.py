"""Pure transforms: API items to table rows. No I/O."""
