Dear ${name},

the balance of your account is ${amount} EUR.

Regards,
Accounts
