Your statement, ${name}
