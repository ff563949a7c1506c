Welcome, ${name}
