<#assign total = 0><#list rows as row><#assign total += row.requests></#list>Mailgate: ${total} request(s) in the last 24 hours
