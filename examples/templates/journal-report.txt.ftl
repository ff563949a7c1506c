Requests in the last 24 hours, by channel and state:

<#list rows as row>
${row.channel?right_pad(10)} ${row.state?lower_case?right_pad(10)} ${row.requests}
</#list>
